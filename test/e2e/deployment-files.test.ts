// The deployment files parse and keep their promises: non-root image with a HEALTHCHECK, probes on /ready and
// /health, a PodDisruptionBudget, a Secret for keys, and two clustered replicas in Compose.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

const root = join(import.meta.dirname, '..', '..');
const read = (f: string) => readFileSync(join(root, f), 'utf8');
const k8s = (f: string) =>
  parseAllDocuments(read(join('deploy/k8s', f))).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as Record<string, any>;
  });

describe('deployment files', () => {
  it('Dockerfile is multi-stage, non-root and health-checked', () => {
    const docker = read('Dockerfile');
    expect(docker.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(docker).toMatch(/^USER node$/m);
    expect(docker).toMatch(/^HEALTHCHECK /m);
    expect(docker).toMatch(/--omit=dev/);
  });

  it('docker-compose runs two clustered replicas with PostgreSQL and Redis', () => {
    const compose = parse(read('docker-compose.yml'), { merge: true });
    const gateways = Object.entries<any>(compose.services).filter(([name]) => name.startsWith('gateway'));
    expect(gateways).toHaveLength(2);
    for (const [, g] of gateways) {
      expect(g.environment).toMatchObject({
        CLUSTER_MODE: 'on',
        REDIS_URL: expect.stringMatching(/^redis:/),
      });
      expect(g.environment.DATABASE_URL).toMatch(/^postgres:/);
    }
    expect(new Set(gateways.map(([, g]) => g.environment.REPLICA_ID)).size).toBe(2);
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['postgres', 'redis']));
  });

  it('Kubernetes: replicas with readiness /ready and liveness /health, a Secret, a PDB', () => {
    const [deploy] = k8s('deployment.yaml');
    expect(deploy.kind).toBe('Deployment');
    expect(deploy.spec.replicas).toBeGreaterThan(1);
    const pod = deploy.spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    const c = pod.containers[0];
    expect(c.readinessProbe.httpGet.path).toBe('/ready');
    expect(c.livenessProbe.httpGet.path).toBe('/health');
    expect(c.envFrom.map((e: any) => e.secretRef?.name).filter(Boolean)).toEqual(['switchboard-secrets']);
    expect(c.env.find((e: any) => e.name === 'REPLICA_ID').valueFrom.fieldRef.fieldPath).toBe(
      'metadata.name',
    );
    const [secret] = k8s('secret.yaml');
    expect(secret).toMatchObject({ kind: 'Secret', metadata: { name: 'switchboard-secrets' } });
    expect(Object.keys(secret.stringData)).toEqual(expect.arrayContaining(['ADMIN_API_KEY', 'DATABASE_URL']));
    const [pdb] = k8s('pdb.yaml');
    expect(pdb.kind).toBe('PodDisruptionBudget');
    expect(pdb.spec.selector.matchLabels).toEqual(deploy.spec.selector.matchLabels);
    const [kustomization] = k8s('kustomization.yaml');
    expect(kustomization.resources).toEqual(
      expect.arrayContaining([
        'secret.yaml',
        'deployment.yaml',
        'pdb.yaml',
        'service.yaml',
        'configmap.yaml',
      ]),
    );
  });
});

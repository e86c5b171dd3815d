// Reads the gateway's own OpenAPI document so tests can cover every operation, including ones added later.

export interface Operation {
  method: string;
  /** Path in Fastify form, e.g. /api/v1/instances/:id */
  path: string;
  pathParams: string[];
  queryParams: string[];
  hasBody: boolean;
  bodyRequired: boolean;
  public: boolean;
  /** Status codes the operation documents. */
  responses: number[];
}

/** Every operation of the OpenAPI document (as produced by app.swagger()). */
export function listOperations(doc: any): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries<any>(doc.paths ?? {})) {
    for (const [method, op] of Object.entries<any>(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const params: any[] = op.parameters ?? [];
      ops.push({
        method: method.toUpperCase(),
        path: path.replace(/\{([^}]+)\}/g, ':$1'),
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: params.filter((p) => p.in === 'query').map((p) => p.name),
        hasBody: op.requestBody !== undefined,
        bodyRequired: op.requestBody?.required === true,
        public: Array.isArray(op.security) && op.security.length === 0,
        responses: Object.keys(op.responses ?? {})
          .map(Number)
          .filter(Number.isFinite),
      });
    }
  }
  return ops;
}

export function fillPath(path: string, values: Record<string, string>): string {
  return path.replace(/:([A-Za-z_]+)/g, (_, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`no value for path parameter :${name} in ${path}`);
    return encodeURIComponent(v);
  });
}

/** A string-valued place in a JSON body: its path, and whether it is a date-time or a free-form JSON record. */
export interface BodyField {
  path: string[];
  kind: 'string' | 'date-time' | 'record';
}

/** Every string, date-time and free-form record field a JSON schema admits (through objects, arrays, anyOf). */
export function bodyFields(schema: any, prefix: string[] = []): BodyField[] {
  if (!schema || typeof schema !== 'object') return [];
  const out = new Map<string, BodyField>();
  const add = (f: BodyField) => out.set(f.path.join('.'), out.get(f.path.join('.')) ?? f);
  for (const alt of [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])])
    for (const f of bodyFields(alt, prefix)) add(f);
  if (schema.type === 'string')
    add({ path: prefix, kind: schema.format === 'date-time' ? 'date-time' : 'string' });
  if (schema.type === 'array' && schema.items)
    for (const f of bodyFields(schema.items, [...prefix, '0'])) add(f);
  if (schema.type === 'object' || schema.properties) {
    for (const [k, v] of Object.entries<any>(schema.properties ?? {}))
      for (const f of bodyFields(v, [...prefix, k])) add(f);
    const extra = schema.additionalProperties;
    if (extra === true || (extra && typeof extra === 'object')) add({ path: prefix, kind: 'record' });
  }
  return [...out.values()];
}

/** The JSON schema of an operation's request body, or undefined. */
export function bodySchemaOf(doc: any, op: Operation): any {
  const path = op.path.replace(/:([A-Za-z_]+)/g, '{$1}');
  return doc.paths?.[path]?.[op.method.toLowerCase()]?.requestBody?.content?.['application/json']?.schema;
}

/** The query parameters of an operation with their JSON schemas. */
export function queryParamsOf(doc: any, op: Operation): Array<{ name: string; schema: any }> {
  const path = op.path.replace(/:([A-Za-z_]+)/g, '{$1}');
  const params: any[] = doc.paths?.[path]?.[op.method.toLowerCase()]?.parameters ?? [];
  return params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema ?? {} }));
}

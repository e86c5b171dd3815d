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

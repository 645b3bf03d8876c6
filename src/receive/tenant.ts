/** Tenant IDs from X-Scope-OrgID, restricted as Mimir does (they become directory names). */
export const DEFAULT_TENANT = 'anonymous';
const TENANT_RE = /^[a-zA-Z0-9!\-_.*'()]{1,150}$/;

/** Returns an error message, or null when the tenant ID is acceptable. */
export function validateTenant(id: string): string | null {
  if (!TENANT_RE.test(id)) {
    return `invalid tenant ID ${JSON.stringify(id.slice(0, 200))} in X-Scope-OrgID: use 1-150 characters of a-z A-Z 0-9 ! - _ . * ' ( )`;
  }
  if (id === '.' || id === '..') return `invalid tenant ID ${JSON.stringify(id)} in X-Scope-OrgID`;
  return null;
}

/** The tenant of a request: the X-Scope-OrgID header, or the default tenant when absent. */
export function tenantOf(header: string | undefined): string {
  return header === undefined || header === '' ? DEFAULT_TENANT : header;
}

import { InvalidTenantError, MissingTenantError } from './errors.js';

/** The tenant every request belongs to when multitenancy is disabled (Tempo's name). */
export const SINGLE_TENANT = 'single-tenant';

const MAX_TENANT_LENGTH = 150;
// Tempo's (dskit's) allowed characters: alphanumerics and !-_.*'() . Nothing that can
// separate or escape a path segment.
const TENANT_PATTERN = /^[0-9A-Za-z!\-_.*'()]+$/;

/**
 * Returns the tenant ID unchanged if it is safe to use as a path segment or object key
 * component; throws InvalidTenantError otherwise. Call before the ID touches storage.
 */
export function validateTenantId(tenantId: string): string {
  if (tenantId.length === 0) throw new InvalidTenantError('tenant ID is empty');
  if (tenantId.length > MAX_TENANT_LENGTH) {
    throw new InvalidTenantError(`tenant ID is ${tenantId.length} characters long, more than the ${MAX_TENANT_LENGTH} allowed`);
  }
  if (tenantId === '.' || tenantId === '..') {
    throw new InvalidTenantError(`tenant ID "${tenantId}" is not allowed`);
  }
  if (!TENANT_PATTERN.test(tenantId)) {
    throw new InvalidTenantError(
      `tenant ID ${JSON.stringify(tenantId)} contains unsupported characters: allowed are letters, digits and !-_.*'()`,
    );
  }
  return tenantId;
}

/**
 * The tenant of a request: `single-tenant` when multitenancy is off; otherwise the validated
 * X-Scope-OrgID value (MissingTenantError when absent).
 */
export function resolveTenant(orgIdHeader: string | string[] | undefined, multitenancyEnabled: boolean): string {
  if (!multitenancyEnabled) return SINGLE_TENANT;
  const value = Array.isArray(orgIdHeader) ? orgIdHeader[0] : orgIdHeader;
  if (value === undefined || value.trim() === '') throw new MissingTenantError();
  return validateTenantId(value.trim());
}

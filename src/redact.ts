/**
 * Passwords never reach output, logs or job errors. Two defences: URLs are masked wherever they
 * are printed, and any text leaving the process passes through `redact`, which also removes the
 * secrets registered from the environment (a password can appear bare in a driver's error).
 */

const secrets = new Set<string>();

/** Remembers the password (and token-like parts) of a URL so that `redact` removes them anywhere. */
export function registerSecretsOf(url: string | undefined): void {
  if (!url) return;
  try {
    const parsed = new URL(url);
    if (parsed.password) secrets.add(decodeURIComponent(parsed.password));
    if (parsed.password) secrets.add(parsed.password);
    // A Slack webhook's path is its secret.
    if (parsed.hostname.includes("slack") && parsed.pathname.length > 1) secrets.add(parsed.pathname);
  } catch {
    // Not a URL: nothing to remember; the config check reports it.
  }
}

/** Remembers a bare secret (an API key, a password from its own variable) so that `redact` removes it anywhere. */
export function registerSecret(value: string | undefined): void {
  if (value) secrets.add(value);
}

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    if (parsed.hostname.includes("slack")) parsed.pathname = "/***";
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@\s]+):[^@\s]*@/g, "//$1:***@");
  }
}

/** Bare secrets shorter than this are masked only inside URLs. */
const MIN_BARE_SECRET = 8;

const userinfoPattern = /([a-z][a-z0-9+.-]*:\/\/[^:/@\s]+):[^@\s]*@/gi;

/** Removes every known secret and every URL password from a text. */
export function redact(text: string): string {
  let out = text.replace(userinfoPattern, "$1:***@");
  for (const secret of secrets) {
    // Short secrets are ordinary words too often (a dev password "sluice" would mask the name).
    if (secret.length >= MIN_BARE_SECRET) out = out.split(secret).join("***");
  }
  return out;
}

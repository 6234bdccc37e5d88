/**
 * Slack notifications through an incoming webhook. Slack being down or slow never blocks or fails
 * the pipeline: each message has a short overall timeout, a 429/5xx or dropped connection is tried
 * again under the shared retry policy within it, failures are logged at debug level, and the
 * process waits for pending messages only briefly before it exits.
 */
import { logger } from "../log/logger.ts";
import { redact } from "../redact.ts";
import { RETRY_DEFAULTS, withRetries } from "../retry.ts";

const TIMEOUT_MS = 3000;
const pending = new Set<Promise<void>>();
const log = logger.withTag("slack");

export interface Notifier {
  notify(text: string): void;
}

export function slackNotifier(webhook: string | undefined, environment: string): Notifier {
  if (!webhook) return { notify() {} };
  return {
    notify(text) {
      const body = JSON.stringify({ text: redact(`[sluice ${environment}] ${text}`) });
      const sent = postMessage(webhook, body)
        .catch((error) => log.debug(`Slack unreachable (${(error as Error).message}); message dropped`))
        .finally(() => pending.delete(sent));
      pending.add(sent);
    },
  };
}

/** One message, tried again on 429, 5xx or a dropped connection, all within TIMEOUT_MS. */
async function postMessage(webhook: string, body: string): Promise<void> {
  const signal = AbortSignal.timeout(TIMEOUT_MS);
  const outcome = await withRetries<number>(
    async () => {
      try {
        const res = await fetch(webhook, { method: "POST", headers: { "content-type": "application/json" }, body, signal });
        await res.body?.cancel().catch(() => {});
        return res.status === 429 || res.status >= 500 ? { retry: `HTTP ${res.status}` } : { done: res.status };
      } catch (error) {
        if (signal.aborted) throw error;
        return { retry: (error as Error).message };
      }
    },
    { policy: RETRY_DEFAULTS.slack, signal },
  );
  if (!("done" in outcome)) log.debug(`Slack failed ${outcome.attempts} times (${outcome.exhausted}); message dropped`);
  else if (outcome.done < 200 || outcome.done > 299) log.debug(`Slack answered ${outcome.done}; message dropped`);
}

/** Waits for messages still in flight, at most the timeout. */
export async function flushNotifications(): Promise<void> {
  await Promise.race([Promise.allSettled([...pending]), Bun.sleep(TIMEOUT_MS)]);
}

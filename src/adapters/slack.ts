/**
 * Slack notifications through an incoming webhook. Slack being down or slow never blocks or fails
 * the pipeline: each message has a short timeout, failures are logged at debug level, and the
 * process waits for pending messages only briefly before it exits.
 */
import { logger } from "../log/logger.ts";
import { redact } from "../redact.ts";

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
      const sent = fetch(webhook, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      })
        .then((res) => {
          if (!res.ok) log.debug(`Slack answered ${res.status}; message dropped`);
        })
        .catch((error) => log.debug(`Slack unreachable (${(error as Error).message}); message dropped`))
        .finally(() => pending.delete(sent));
      pending.add(sent);
    },
  };
}

/** Waits for messages still in flight, at most the timeout. */
export async function flushNotifications(): Promise<void> {
  await Promise.race([Promise.allSettled([...pending]), Bun.sleep(TIMEOUT_MS)]);
}

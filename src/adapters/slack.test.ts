/** Slack messages against a local webhook that is briefly overloaded. */
import { afterAll, expect, test } from "bun:test";
import { flushNotifications, slackNotifier } from "./slack.ts";

const received: string[] = [];
let answers: number[] = [];
const webhook = Bun.serve({
  port: 0,
  async fetch(req) {
    const status = answers.shift() ?? 200;
    if (status === 200) received.push(((await req.json()) as { text: string }).text);
    return new Response(status === 200 ? "ok" : "busy", { status });
  },
});
afterAll(() => webhook.stop(true));

test("a message Slack refuses with 503 and 429 is tried again, and arrives once", async () => {
  answers = [503, 429];
  slackNotifier(webhook.url.toString(), "test").notify("run image succeeded");
  await flushNotifications();
  expect(received).toEqual(["[sluice test] run image succeeded"]);
  expect(answers).toEqual([]);
});

test("a webhook that keeps failing gives up within the timeout, without throwing", async () => {
  received.length = 0;
  answers = [500, 500, 500, 500];
  const started = performance.now();
  slackNotifier(webhook.url.toString(), "test").notify("dropped");
  await flushNotifications();
  expect(received).toEqual([]);
  expect(answers).toEqual([500]);
  expect(performance.now() - started).toBeLessThan(3500);
});

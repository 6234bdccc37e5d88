import { defineCommand } from "citty";
import { NotBuiltError } from "../src/errors.ts";

export default defineCommand({
  meta: { name: "ingest", description: "Ingest a tar bundle, hash-checked file by file, all or nothing" },
  args: { bundle: { type: "positional", description: "path to the bundle .tar", required: true } },
  async run() {
    throw new NotBuiltError("the ingest stage");
  },
});

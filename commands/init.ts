import { defineCommand } from "citty";
import { DECLARATIONS_FILE, initProject } from "../src/config/init.ts";

export default defineCommand({
  meta: { name: "init", description: "Write a starter sluice.config.ts and the type declarations it imports" },
  args: {
    dir: { type: "string", description: "directory to write into", default: ".", valueHint: "path" },
    force: { type: "boolean", description: "overwrite sluice.config.ts and sluice-env.d.ts if they exist", default: false },
    types: { type: "boolean", description: "write only sluice-env.d.ts (after upgrading sluice)", default: false },
  },
  async run({ args }) {
    const result = await initProject(args.dir, { force: args.force, typesOnly: args.types });
    for (const file of result.written) process.stdout.write(`wrote ${file}\n`);
    for (const file of result.kept) process.stdout.write(`kept your ${file}: make sure it includes ${DECLARATIONS_FILE}\n`);
    if (!args.types) process.stdout.write("next: edit sluice.config.ts, then run `sluice config check`\n");
  },
});

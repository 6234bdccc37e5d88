// Bun embeds `import x from "./file.xsd" with { type: "text" }` as a string at build time;
// TypeScript only needs to know the default export is that string.
declare module "*.xsd" {
  const text: string;
  export default text;
}

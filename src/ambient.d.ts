// Bun imports these as strings (`with { type: "text" }`) and embeds them in the compiled binary.
declare module "*.sql" {
  const text: string;
  export default text;
}
declare module "*.xsd" {
  const text: string;
  export default text;
}
declare module "*.txt" {
  const text: string;
  export default text;
}

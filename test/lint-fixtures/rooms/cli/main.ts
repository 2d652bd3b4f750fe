export async function main(argv: string[]): Promise<number> {
  return argv.length;
}

export async function work(input: string): Promise<string> {
  return input;
}

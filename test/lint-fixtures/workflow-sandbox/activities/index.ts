export type WorkResult = string;

/** An activity: real I/O may happen here. */
export async function work(input: string): Promise<WorkResult> {
  return input;
}

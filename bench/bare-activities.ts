/**
 * The baseline's one activity: returns at once. Kept apart from the workflow file so the
 * workflow bundle only imports its type (activities never enter the workflow sandbox).
 */
export const bareActivities = {
  async bareActivity(n: number): Promise<number> {
    return n;
  },
};

export type BareActivities = typeof bareActivities;

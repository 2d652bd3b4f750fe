/** `synapse platform stats`: where the data is and how many rows each table holds. */
import type { PlatformDb } from '../db.js';
import { PLATFORM_TABLES } from '../schema.js';

export interface PlatformStats {
  dialect: PlatformDb['dialect'];
  location: string;
  tables: Record<(typeof PLATFORM_TABLES)[number], number>;
}

export async function platformStats(platform: PlatformDb): Promise<PlatformStats> {
  const tables = {} as PlatformStats['tables'];
  for (const table of PLATFORM_TABLES) {
    const row = await platform.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    tables[table] = Number(row.n);
  }
  return { dialect: platform.dialect, location: platform.location, tables };
}

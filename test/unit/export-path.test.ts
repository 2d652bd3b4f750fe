/** The unique export path (`name`, `name(1)`, `name(2)`, ...) and the export params' filter rules. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ParamsError } from '../../contracts/errors.js';
import { fileStem, parseExportParams, uniqueExportPath } from '../../sdk/exporter.js';

const takenIn = (taken: string[]) => async (p: string) => taken.includes(p);

describe('uniqueExportPath', () => {
  it('uses the name when it is free', async () => {
    expect(await uniqueExportPath('exports', 'gt', takenIn([]))).toBe('exports/gt');
    expect(await uniqueExportPath('', 'gt', takenIn([]))).toBe('gt');
    expect(await uniqueExportPath('/a//b/', 'gt', takenIn([]))).toBe('a/b/gt');
  });

  it('counts up past taken names', async () => {
    expect(await uniqueExportPath('x', 'gt', takenIn(['x/gt']))).toBe('x/gt(1)');
    expect(await uniqueExportPath('x', 'gt', takenIn(['x/gt', 'x/gt(1)', 'x/gt(2)']))).toBe('x/gt(3)');
    expect(await uniqueExportPath('x', 'gt', takenIn(['x/gt(1)']))).toBe('x/gt');
  });

  it('gives up after maxTries', async () => {
    await expect(uniqueExportPath('x', 'gt', async () => true, 5)).rejects.toThrow(/no free export path/);
  });
});

describe('export params', () => {
  const cls = { extraParams: z.strictObject({ n: z.number().default(1) }) };
  const base = { name: 'e', storage: 1 };

  it('requires the filter key of each target', () => {
    for (const [target, key] of [
      ['assignment', 'filter.project'],
      ['ground_truth', 'filter.ground_truth_dataset_version'],
      ['task', 'filter.project'],
    ]) {
      try {
        parseExportParams(cls, { ...base, target, filter: {} });
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(ParamsError);
        expect((err as ParamsError).problems.map((p) => p.path)).toEqual([key]);
      }
    }
  });

  it('fills defaults and validates extra_params with the exporter schema', () => {
    const p = parseExportParams(cls, { ...base, target: 'task', filter: { project: 3 } });
    expect(p).toMatchObject({ save_original_file: false, path: '', extra_params: { n: 1 } });
    expect(() => parseExportParams(cls, { ...base, target: 'task', filter: { project: 3 }, extra_params: { n: 'x' } })).toThrow(ParamsError);
    expect(() => parseExportParams(cls, { ...base, name: 'a/b', target: 'task', filter: { project: 3 } })).toThrow(ParamsError);
  });

  it('takes the stem of a file name', () => {
    expect(fileStem('a/b/0001.png')).toBe('0001');
    expect(fileStem('x.tar.gz')).toBe('x.tar');
    expect(fileStem('.hidden')).toBe('.hidden');
  });
});

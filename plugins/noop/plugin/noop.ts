import { ValidationAction, type RunContext } from '@synapse/sdk';

export class Noop extends ValidationAction {
  async start(_ctx: RunContext) {
    return { ok: true };
  }
}

/**
 * A case's engine options applied: the engine a case runs on is the factory tuned by
 * `engineOptions` (`EngineFactory.withOptions`), so a replay line or a counterexample file that
 * carries them runs the configuration that failed, never the default one.
 */
import type { EngineFactory } from '../engine/contract.js';
import { InputError } from '../errors.js';
import type { Case } from './case.js';

export function engineForCase(factory: EngineFactory, c: Pick<Case, 'engineOptions'>): EngineFactory {
  const options = c.engineOptions;
  if (options === undefined) return factory;
  if (factory.withOptions === undefined) {
    throw new InputError(`engineOptions: the case sets ${Object.keys(options).join(', ') || 'engine options'}, but the engine ${factory.name} takes no options (it has no withOptions)`);
  }
  return factory.withOptions(options);
}

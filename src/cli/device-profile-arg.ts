/**
 * `--device-profile NAME|FILE`: the devices a run's cases use (src/devices/device-profile.ts), a
 * preset by name or a profile file (JSON, scenarios/device-profile.schema.json). A preset's name
 * wins over a file of that name in the working directory; `./NAME` names the file.
 */
import { resolve } from 'node:path';
import { type DeviceProfile, parseDeviceProfile, PRESETS } from '../devices/device-profile.js';
import { readInputFile } from '../harness/input-file.js';
import { parseJson } from '../harness/json-input.js';
import { InputError } from './command.js';

export const DEVICE_PROFILE_OPTION = { 'device-profile': { type: 'string' } } as const;

export const DEVICE_PROFILE_HELP = `  --device-profile P        how the devices behave: a preset (${Object.keys(PRESETS).join(', ')})
                            or a profile file (JSON, scenarios/device-profile.schema.json);
                            overrides a scenario's deviceProfile (docs/fault-model.md)`;

/** The profile the flag names, or undefined without the flag; bad input names what is wrong (exit 2). */
export async function deviceProfileFlag(value: string | undefined, cwd: string): Promise<DeviceProfile | undefined> {
  if (value === undefined) return undefined;
  const preset = PRESETS[value];
  if (preset !== undefined) return preset;
  const name = `--device-profile ${value}`;
  let text: string;
  try {
    text = await readInputFile(resolve(cwd, value), name, 'a device profile file');
  } catch (e) {
    // A bare word was most likely meant as a preset: say so first.
    if (e instanceof InputError && /^[\w-]+$/.test(value)) throw new InputError(`--device-profile: no preset named ${value} (the presets are ${Object.keys(PRESETS).join(', ')}), nor a file: ${e.message}`);
    throw e;
  }
  return parseDeviceProfile(parseJson(text, name), name);
}

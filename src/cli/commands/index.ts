/**
 * The registry of `prestore` commands. Adding one is one line here: a module in this directory
 * whose default export is a `Command`, exported under the command's name. `prestore --help`
 * lists them in alphabetical order.
 */
export { default as exhaust } from './exhaust.js';
export { default as explore } from './explore.js';
export { default as replay } from './replay.js';
export { default as start } from './start.js';

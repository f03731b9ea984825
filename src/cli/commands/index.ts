/**
 * The registry of `prestore` commands. Adding one is one line here: a module in this directory
 * whose default export is a `Command`, exported under the command's name. `prestore --help`
 * lists them in alphabetical order.
 */
export { default as exhaust } from './exhaust.js';
export { default as explore } from './explore.js';
export { default as mutants } from './mutants.js';
export { default as replay } from './replay.js';
export { default as start } from './start.js';
export { default as init } from './init.js';
export { default as merge } from './merge.js';
export { default as restore } from './restore.js';
export { default as resume } from './resume.js';
export { default as serve } from './serve.js';
export { default as status } from './status.js';

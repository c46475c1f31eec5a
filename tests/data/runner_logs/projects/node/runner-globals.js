// Jest and Mocha provide describe/it/test as globals; node:test exports them.
module.exports = { describe: global.describe, it: global.it, test: global.test || global.it };

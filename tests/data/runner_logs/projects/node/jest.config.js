// Jest needs a config file to start; the defaults are all the demo needs.
module.exports = { testEnvironment: "node" };

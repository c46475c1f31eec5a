const assert = require("node:assert");
const { describe, it, test } = require(process.env.DEMO_RUNNER === "node" ? "node:test" : "./runner-globals.js");

describe("math", () => {
  it("adds", () => {
    assert.strictEqual(1 + 1, 2);
  });
  it("subtracts wrongly", () => {
    assert.strictEqual(2 - 1, 3);
  });
  it.skip("divides later", () => {});
});

test("top level passes", () => {});

"""Harbor / Terminal-Bench task folders: task.toml, instruction.md, tests/test.sh rewards."""

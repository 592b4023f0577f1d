"""The billion-laughs document shared by the CLI tests (expands to 9**9 scalars)."""

BOMB = "\n".join(
    [f'a0: &a0 [{", ".join(["lol"] * 9)}]']
    + [f'a{i}: &a{i} [{", ".join([f"*a{i - 1}"] * 9)}]' for i in range(1, 9)]) + "\n"


def test_bomb_really_expands_beyond_the_bound():
    from simulator.yamlsafe import MAX_EXPANDED_NODES
    assert BOMB.count("*a7") == 9 and 9 ** 9 > MAX_EXPANDED_NODES

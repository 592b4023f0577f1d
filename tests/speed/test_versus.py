"""benchmarks.versus reads cachegrind's summary (a real one, captured from
``valgrind --tool=cachegrind --cache-sim=yes --branch-sim=yes true``)."""

from benchmarks.versus import parse_cachegrind

CACHE_SIM = """\
==8744== Cachegrind, a cache and branch-prediction profiler
==8744==
==8744== I   refs:      127,769
==8744== I1  misses:      1,091
==8744== LLi misses:      1,072
==8744== I1  miss rate:    0.85%
==8744== LLi miss rate:    0.84%
==8744==
==8744== D   refs:       39,669  (29,403 rd   + 10,266 wr)
==8744== D1  misses:      1,568  ( 1,224 rd   +    344 wr)
==8744== LLd misses:      1,327  ( 1,015 rd   +    312 wr)
==8744== D1  miss rate:     4.0% (   4.2%     +    3.4%  )
==8744==
==8744== Branches:       25,624  (25,345 cond +    279 ind)
==8744== Mispredicts:     3,311  ( 3,161 cond +    150 ind)
==8744== Mispred rate:     12.9% (  12.5%     +   53.8%   )
"""


def test_totals_of_each_counter_not_the_rates_or_the_last_level() -> None:
    assert parse_cachegrind(CACHE_SIM) == {"I refs": 127_769, "I1 misses": 1_091,
                                           "D1 misses": 1_568, "Mispredicts": 3_311}


def test_without_cache_simulation_only_instructions() -> None:
    assert parse_cachegrind("==1== \n==1== I refs:      2,723,209,807\n") == {"I refs": 2_723_209_807}

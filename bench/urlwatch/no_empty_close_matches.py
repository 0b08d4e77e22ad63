"""A urlwatch hooks file (`bench.py --urlwatch-hooks`) for the test of where its CPU goes.

urlwatch 2.29 calls difflib.get_close_matches(new_data, history_data, n=1) for every
changed job, also when history_data is empty (compared_versions unset), and that call
first indexes every character of the new page. This makes it return [] for an empty
history, which is what it returns anyway, without the index.
"""

import difflib

_get_close_matches = difflib.get_close_matches


def _without_empty(word, possibilities, *args, **kwargs):
    if not possibilities:
        return []
    return _get_close_matches(word, possibilities, *args, **kwargs)


difflib.get_close_matches = _without_empty

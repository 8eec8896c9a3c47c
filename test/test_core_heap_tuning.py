# Copyright 2026 The clingers_perception authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Tests that frame-sized buffers come from glibc's heap once the node has tuned malloc."""

import ctypes
import os
import subprocess
import sys

import pytest

# In a process of its own: the tuning is process-wide, and glibc raises its mmap threshold by
# itself once a mapped block is freed, so only a fresh process shows the default.
_PROBE = """
import ctypes
from clingers_perception.heap_tuning import keep_frame_buffers_in_heap


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        'arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks', 'fsmblks', 'uordblks',
        'fordblks', 'keepcost')]


libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
frame = 1280 * 1024


def mapped_after_malloc():
    before = libc.mallinfo2().hblks
    assert libc.malloc(frame)
    return libc.mallinfo2().hblks - before


print(mapped_after_malloc(), keep_frame_buffers_in_heap(), mapped_after_malloc())
"""


def _has_mallinfo2():
    try:
        return hasattr(ctypes.CDLL(None), 'mallinfo2')
    except OSError:
        return False


@pytest.mark.skipif(not _has_mallinfo2(), reason='needs glibc 2.33 or later (mallinfo2)')
def test_a_frame_sized_buffer_is_mapped_by_default_and_comes_from_the_heap_once_tuned():
    """One 1280x1024 frame: its own mapping before the tuning, none after; tuning reports True."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [root] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    # A glibc tunable or variable set by the caller would change the default being shown.
    for name in ('GLIBC_TUNABLES', 'MALLOC_MMAP_THRESHOLD_', 'MALLOC_TOP_PAD_'):
        env.pop(name, None)
    result = subprocess.run([sys.executable, '-c', _PROBE], env=env, capture_output=True,
                            text=True, timeout=60, check=True)
    assert result.stdout.split() == ['1', 'True', '0'], result.stdout + result.stderr

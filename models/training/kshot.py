"""k-shot sampling: k training examples per class, chosen deterministically (pure Python).

The k examples of a class are those whose file names have the smallest sha256: the same
choice on every run and machine, whatever order the examples arrive in, and it holds
only k names per class in memory.
"""
import hashlib
import heapq


def _rank(filename):
    return int(hashlib.sha256(filename.encode("utf-8")).hexdigest()[:16], 16)


def select(pairs, k):
    """pairs: iterable of (filename, label) -> the set of chosen file names."""
    heaps = {}
    for filename, label in pairs:
        heap = heaps.setdefault(label, [])
        item = (-_rank(filename), filename)
        if len(heap) < k:
            heapq.heappush(heap, item)
        elif item > heap[0]:  # smaller rank than the largest kept
            heapq.heapreplace(heap, item)
    short = {label: len(heap) for label, heap in heaps.items() if len(heap) < k}
    if short:
        raise ValueError(f"k_shot={k} but these classes have fewer training examples: {short}")
    return {filename for heap in heaps.values() for _, filename in heap}

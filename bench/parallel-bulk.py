"""A reference for the index bench: Openverse's indexer method (elasticsearch-py
helpers.parallel_bulk, chunk 400, 4 threads), fed the documents sluice builds, read from the
prebuilt NDJSON files of the raw-bulk limit. Run by bench/index-rounds.ts when python3 has the
`elasticsearch` package:

    python3 bench/parallel-bulk.py <ndjsonDir> <esUrl> <index>   -> prints {"docs": N, "failed": M}
"""
import json
import os
import sys

from elasticsearch import Elasticsearch, helpers

directory, url, index = sys.argv[1:4]


def actions():
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), "rb") as f:
            lines = f.read().split(b"\n")
        for i in range(0, len(lines) - 1, 2):
            action = json.loads(lines[i])["index"]
            yield {"_index": index, "_id": action["_id"], "_source": json.loads(lines[i + 1])}


es = Elasticsearch(url, request_timeout=120)
docs = failed = 0
for ok, _ in helpers.parallel_bulk(es, actions(), chunk_size=400, thread_count=4, raise_on_error=False):
    if ok:
        docs += 1
    else:
        failed += 1
print(json.dumps({"docs": docs, "failed": failed}))

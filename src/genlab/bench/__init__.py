"""Performance benchmarks behind ``genlab bench``: each measures ours and a reference in one
process, interleaved, so that a noisy, shared machine slows both alike and the ratio survives.

machine.py: the machine stamp and the float32 matmul peak; training.py: training throughput
against the textbook DataLoader loop; inference.py: sampling and evaluation throughput;
profiling.py: top operators, achieved FLOP/s and step time vs batch and image size;
quality.py: training time until the classifier sees every digit; variants.py: channels-last,
bfloat16 autocast and torch.compile training steps against the plain float32 step;
report.py: the Markdown.
"""

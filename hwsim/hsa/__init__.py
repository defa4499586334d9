"""Kind ``hsa``: the hybrid systolic array edge-LLM accelerator (Chen et al., ISLPED 2025; docs/hsa.md)."""

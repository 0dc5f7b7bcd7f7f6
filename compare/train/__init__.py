"""Training code, out of the runtime path: fine-tuning the embedding model and the claim reranker
(`compare finetune`). Reports and builds never import it."""

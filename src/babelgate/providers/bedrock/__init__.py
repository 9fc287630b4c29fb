"""AWS Bedrock (`type: bedrock`): Converse, InvokeModel for Claude and embeddings, SigV4 or a bearer key."""

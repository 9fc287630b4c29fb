"""Azure OpenAI and Microsoft Foundry (`type: azure`)."""

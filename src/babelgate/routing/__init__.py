"""Which provider and upstream model serve a public model name, and how calls are retried."""

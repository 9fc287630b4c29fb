"""The conversation log: what logged callers sent their models and got back, kept in the store and sent to the
exporters, built off the request path."""

"""Tables, comparisons and plots built from result rows."""

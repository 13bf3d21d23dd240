"""The host track: workers as local processes, started exactly as a pod would start them."""

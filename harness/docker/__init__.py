"""The docker track: rendered pods as Docker containers (images, pod translation, pods, cluster)."""

"""Infrastructure: sites > racks > nodes > GPUs, the network fabric, and live capacity."""

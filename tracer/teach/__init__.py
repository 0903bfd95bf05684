"""Teaching tools: quiz variants, mistakes made for real, replay of a solution, checking claimed numbers."""

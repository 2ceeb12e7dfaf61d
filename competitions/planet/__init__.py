"""Planet: Understanding the Amazon from Space: 17-label tagging of 256x256 satellite chips."""

"""The wayshub component package (PulumiPlugin.yaml): the Site for Pulumi programs in other languages."""

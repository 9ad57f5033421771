"""Datasets: the catalog of official files under the data root, their readers, fetching."""

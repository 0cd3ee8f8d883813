"""The pipeline written out for an existing orchestrator: an Airflow DAG, Kubernetes manifests.

One module per target, text generation only: nbprod never imports Airflow or a Kubernetes
client; what it writes imports only the target's own libraries, and each task it schedules
runs ``nbprod task`` (or ``nbprod build``) in the project's image or folder.
"""

"""The lab: where a data scientist starts. Today, new projects from the template.

>>> from shipyard.lab import create_project
>>> project = create_project(Path("churn"))  # doctest: +SKIP
>>> project.path.name, project.package_name  # doctest: +SKIP
('churn', 'churn')
"""

from shipyard.lab._new_project import NewProject, create_project, default_package_name

__all__ = ["NewProject", "create_project", "default_package_name"]

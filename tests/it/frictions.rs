//! The smaller frictions of a first use (issue 14), each as the user meets it.

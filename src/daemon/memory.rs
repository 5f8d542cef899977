//! Returning memory to the operating system between cycles.
//!
//! A cycle allocates the whole desired set, the live set and the plan, then drops them.
//! glibc keeps freed heap pages in its arenas, so a daemon that synced a large tenant
//! once would sit at its peak resident size until it exits, while doing nothing. Asking
//! glibc to trim after each cycle brings the idle size back down (measured by the
//! benchmark's `idle_rss_mib`). Elsewhere this is a no-op.

/// Gives freed heap memory back to the operating system (glibc only).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim only walks glibc's own free lists; it takes no pointer from
        // us, and glibc documents it as safe to call at any time from any thread.
        unsafe {
            malloc_trim(0);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn trimming_is_harmless() {
        let v: Vec<Vec<u8>> = (0..1000).map(|i| vec![0u8; 1024 + i]).collect();
        drop(v);
        super::release_free_memory();
        let again = vec![1u8; 4096];
        assert_eq!(again.len(), 4096);
    }
}

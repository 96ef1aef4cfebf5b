//! The process's global allocator: mimalloc, called the way its C API is
//! fastest.
//!
//! Why not `mimalloc::MiMalloc` as it is: that wrapper sends every
//! allocation through `mi_malloc_aligned`, whose path in mimalloc 3 takes
//! about twice the instructions of plain `mi_malloc` (callgrind, set 16x8:
//! about 20 allocations per request). Nearly every Rust allocation asks for
//! an alignment that `mi_malloc` already guarantees, so only the rest go the
//! aligned way; freeing is the same call for both.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment every `mi_malloc` block has when its size is at least
/// that (mimalloc's `MI_MAX_ALIGN_SIZE` on 64-bit targets); smaller blocks
/// are aligned to their size class, which is a multiple of 8.
const PLAIN_ALIGN_BYTES: usize = 16;

/// Whether plain `mi_malloc(size)` satisfies `layout`: the same test the
/// standard library's System allocator makes before calling `malloc`.
fn plain(align: usize, size: usize) -> bool {
    align <= PLAIN_ALIGN_BYTES && align <= size
}

pub struct MiMalloc;

// SAFETY: every block comes from mimalloc and goes back to it; a layout that
// `mi_malloc` might not align goes through the aligned calls.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if plain(layout.align(), layout.size()) {
            mi::mi_malloc(layout.size()).cast()
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if plain(layout.align(), layout.size()) {
            mi::mi_zalloc(layout.size()).cast()
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr.cast::<c_void>());
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if plain(layout.align(), new_size) {
            mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
        } else {
            mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every layout gets a block aligned as asked, whichever call served
    /// it, and keeps its alignment and contents through realloc.
    #[test]
    fn blocks_are_aligned_as_asked_and_survive_realloc() {
        let alloc = MiMalloc;
        for align in [1usize, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1usize, 3, 8, 15, 16, 24, 100, 5000] {
                let Ok(layout) = Layout::from_size_align(size, align) else {
                    continue;
                };
                // SAFETY: a non-zero size; the block is written within its
                // size and freed with its layout.
                unsafe {
                    let ptr = alloc.alloc(layout);
                    assert!(!ptr.is_null());
                    assert_eq!(ptr as usize % align, 0, "size {size} align {align}");
                    ptr.write_bytes(0xa5, size);
                    let grown = alloc.realloc(ptr, layout, size * 3);
                    assert!(!grown.is_null());
                    assert_eq!(grown as usize % align, 0, "realloc {size} align {align}");
                    assert!((0..size).all(|i| *grown.add(i) == 0xa5));
                    alloc.dealloc(grown, Layout::from_size_align_unchecked(size * 3, align));

                    let zeroed = alloc.alloc_zeroed(layout);
                    assert_eq!(zeroed as usize % align, 0);
                    assert!((0..size).all(|i| *zeroed.add(i) == 0));
                    alloc.dealloc(zeroed, layout);
                }
            }
        }
    }
}
